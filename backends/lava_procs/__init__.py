"""Custom Lava Processes. Lava imports every ``.py`` file in the folder of a module that
defines a Process when it looks for ProcessModels, so each Process lives with its models
in a folder of its own, and nothing here is imported unless Lava is installed."""
