"organs chapter of deepmact."
