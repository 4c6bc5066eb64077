"""Sub-commands of ``brightstar``; each module defines ``register(subparsers)``."""
