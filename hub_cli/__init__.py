"""The `hub` command. It sits above the four packages (it may import each of them, lazily),
so `hub_core` imports none of them."""
