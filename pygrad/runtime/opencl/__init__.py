"""The OpenCL backend: runtime (devices, queues, memory), kernel building, and the primitives."""
