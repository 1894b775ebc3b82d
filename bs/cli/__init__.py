"""The click CLI: a thin layer that only translates to and from the use cases."""
