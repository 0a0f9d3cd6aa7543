"""The synchronous shell: `XRoute`, its resources and `Stream`."""
