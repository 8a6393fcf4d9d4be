"""bpnet: backpropagation from scratch with numpy, trained on MNIST."""

__version__ = "0.1.0"
