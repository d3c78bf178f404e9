"""carbonline's Node-RED flows in a plant's Node-RED: ``carbonline node-red deploy``."""
