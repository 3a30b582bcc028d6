"""Dashboards: figures of a results DataFrame (matplotlib, Agg backend) and the one-file HTML report.

Every figure function takes a results DataFrame (as :func:`genai_harness.results.load_results` returns) and an
optional matplotlib Axes, and returns the Figure; axes carry units, the caption names the machine, runtime
versions and numeric settings (precision, threads).
"""

from genai_harness.dashboards.comparison import device_comparison
from genai_harness.dashboards.distributions import itl_percentiles, latency_ecdf
from genai_harness.dashboards.history import history
from genai_harness.dashboards.itl_positions import itl_by_position, itl_position_medians
from genai_harness.dashboards.pick import pick_figure
from genai_harness.dashboards.scaling import tpot_vs_context, ttft_vs_prompt
from genai_harness.dashboards.speed import relative_speed, relative_speed_matrix, summary_score, summary_scores

__all__ = ["device_comparison", "history", "itl_by_position", "itl_percentiles", "itl_position_medians",
           "latency_ecdf", "pick_figure", "relative_speed", "relative_speed_matrix", "summary_score", "summary_scores",
           "tpot_vs_context", "ttft_vs_prompt"]
