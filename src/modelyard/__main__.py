"""``python -m modelyard`` (what ``accelerate launch -m modelyard`` runs in each process)."""

from modelyard.cli import main

main()
