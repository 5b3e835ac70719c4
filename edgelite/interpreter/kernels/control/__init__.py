"""kernels.control: IF, WHILE and CALL_ONCE (operators that run other subgraphs)."""
