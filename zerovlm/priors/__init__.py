"""3D priors in SpatialPIN's style: depth + located objects -> 3D centres, sizes and relations -> text."""
