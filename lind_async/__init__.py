"""lind_async: an asyncio/uvloop microvisor running untrusted wasm32 C programs in cages."""

__version__ = "0.1.0"
