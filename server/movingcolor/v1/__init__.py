"""Generated stubs of the wire contract ``movingcolor.v1`` (``protos/movingcolor/v1``).

Do not edit the ``*_pb2*`` files: change the ``.proto`` files and run
``python -m movingcolor.protocol.generate``. Hand-written helpers live in
``movingcolor.protocol``.
"""
