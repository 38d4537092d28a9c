"""One module per export format: the function that writes it (``source_to_target``), and for the formats
only torch can run, the model that runs it. What is known about each format is its row in
``edgedigits.core.registry``."""
