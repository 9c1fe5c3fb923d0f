"""What reads a job's predictions: scores with intervals (metrics, statistics), comparisons between jobs (paired),
the sweep's report and tidy results (report, tidy, plots), the pictures of samples (visualize), W&B (wandb_report)
and the paper's published numbers (published)."""
