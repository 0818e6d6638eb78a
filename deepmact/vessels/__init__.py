"vessels chapter of deepmact."
