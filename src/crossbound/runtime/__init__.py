"""The Faust runtime: the only package that imports faust. ``app`` wires agents, tables and timers onto
the pipeline; ``worker`` builds and runs the app from settings; ``eos`` patches Faust's producer."""
