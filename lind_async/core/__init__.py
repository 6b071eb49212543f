"""Sans-I/O microvisor state: 3i routing tables, fd tables, vmmap, signal state, cage table.

Nothing here awaits, touches the host or wasm: the async runtime is a thin shell around it.
"""
