"""The quality stage (``sqm quality``, SPEC section 7): a Faust app over ``sqm.indicators.v1``."""
