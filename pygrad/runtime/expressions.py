"""Which C expression computes which elementwise function: filled by the op layer, read by backends.

The op tables (``ops/elementwise.py``: one row per op with its NumPy function, OpenCL C expression and
derivative) hand themselves over here when they are imported, so the OpenCL backend finds the
expression of a NumPy function without importing the layer above it (ops import the runtime, never
the other way round).
"""
_tables = []  # (unary, binary, extra) dicts as registered; read when a backend first needs them


def register(unary, binary, extra):
    """Register op tables: ``unary`` / ``binary`` map name -> (function, expression, ...) rows,
    ``extra`` maps function -> (name, expression, arity).  The dicts are kept, not copied."""
    _tables.append((unary, binary, extra))


def opencl_table():
    """NumPy function -> (op name, ``OPn(...)=(expression)`` macro, arity) of every registered op."""
    table = {}
    for unary, binary, extra in _tables:
        for name, row in unary.items():
            table[row[0]] = (name, f"OP1(x)=({row[1]})", 1)
        for name, row in binary.items():
            table[row[0]] = (name, f"OP2(a,b)=({row[1]})", 2)
        for fn, (name, expr, n) in extra.items():
            table[fn] = (name, f"OP{n}({'a,b,c'[:2 * n - 1]})=({expr})", n)
    return table
