"""VLM backbones: images + prompts -> p(yes) (likelihood) or text parsed to yes/no/unparsed (generate)."""
