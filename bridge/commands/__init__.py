"""CLI subcommands. Each module exposes ``register(subparsers)``; registering must stay cheap
(no torch/cv2 imports) so that ``foley --help`` is instant."""

#: Subcommand modules, in the order ``foley --help`` lists them.
COMMANDS = ["run", "batch", "demo", "serve", "submit", "status", "cancel", "library", "credits", "install_scripts"]
