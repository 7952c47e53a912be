"""The whole command line (``bridge = sync.cli.main:app``): the composition root.

Each module holds one group of commands; they open the store, the mapping and the
CRMs through one settings loader and hand the work to ``sync``.
"""
