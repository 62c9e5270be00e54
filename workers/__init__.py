"""RQ side: queues, thin jobs, the sweeper and scheduled work, the worker entry point."""
