"""The bridge's flows, one module each: start a run, converse, decide, promote, and show a turn (:mod:`bot.bridge`)."""
