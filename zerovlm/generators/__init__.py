"""Novel-view generators: (sample, poses, seeds) -> images. See base.ViewGenerator."""
