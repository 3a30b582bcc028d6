"""What differs by task: how a cell measures it, its timing metrics, its reference check, its probe workload."""
