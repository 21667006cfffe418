"""What the three Glue jobs share: the Spark schema derived from the data dictionary, the MySQL target
and its credentials, file-system access through Hadoop, Avro reading and writing, and the per-row
functions that run on the executors.

Shipped to Glue in the ``--extra-py-files`` zip beside ``chalicelib`` (see ``glue/build_package.py``).
"""
