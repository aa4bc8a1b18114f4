"""ganscope's tests: a package, so `tests.servers` and `tests.helpers` import by name."""
