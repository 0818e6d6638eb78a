"spheroids chapter of deepmact."
