"""The `thinktank` command line: one module per command group, sync only at this edge."""
