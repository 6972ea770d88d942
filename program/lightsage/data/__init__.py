"""Reading data: the one value rule, input schemas, channels, profiles, splits and key lookups."""
