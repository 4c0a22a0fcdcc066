"""The `atoll` command: the top layer, turning user commands into calls on the layers below."""
