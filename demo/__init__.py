"""The invented demo county (青松县, in county.py): the world the tests, the sandbox and
`baoxue demo seed` start from. It sits on casework and models only, so the sandbox, the CLI,
the tests and the benchmarks can all use it without importing one another."""
