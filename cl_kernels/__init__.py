"""OpenCL C kernels, shipped inside the wheel as the resource package `pygrad.cl_kernels`."""
