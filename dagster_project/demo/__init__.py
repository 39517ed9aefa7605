"""Deterministic demo landing data: what the six cities and the evaluator would send."""

from dagster_project.demo.generator import LAYOUTS, DemoFile, DemoSummary, generate_demo

__all__ = ["LAYOUTS", "DemoFile", "DemoSummary", "generate_demo"]
