"""dashboards of genai-harness."""
