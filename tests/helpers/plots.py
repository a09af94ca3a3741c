"""A code cell that shows one plot, as matplotlib's inline backend stores it."""

from __future__ import annotations


def plot_cell(value: str, mime: str = "image/png", size: str = "288x216",
              axes: int = 1) -> dict:
    return {
        "cell_type": "code",
        "source": "plot()",
        "metadata": {},
        "execution_count": 1,
        "outputs": [
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"text/plain": f"<Figure size {size} with {axes} Axes>", mime: value},
            }
        ],
    }
