"""The asynchronous shell: `AsyncXRoute`, its resources and `AsyncStream`."""
