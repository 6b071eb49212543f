"""Guest ABI constants and struct layouts: pure data shared by RawPOSIX and the toolchain."""
