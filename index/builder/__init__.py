"""Making and keeping an index: build, update, Ray, ensure, Hub push and pull, writing an adaptation."""
