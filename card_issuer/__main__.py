"""``python -m card_issuer …``: the mock card issuer's command line."""

from card_issuer.cli import main

if __name__ == "__main__":
    main(prog_name="python -m card_issuer")
