"""Models: the TTM encoder over named channels and the heads built on its latents."""
