"""Rounding always goes against the project, in every plugin: `settle` is the one place amounts
become integer kg, and these properties hold for any exact amounts a plugin hands it."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from methodologies.quantification import VintageAmounts, settle

KG = st.fractions(min_value=0, max_value=10**9, max_denominator=10**6)
SHARE = st.fractions(min_value=0, max_value=Fraction(1, 2), max_denominator=1000)


@given(baseline=KG, removals=KG, project=KG, leakage=KG, uncertainty=KG, late=KG, certificates=KG, buffer=SHARE)
def test_credited_figures_round_down_and_deductions_up(
    baseline: Fraction, removals: Fraction, project: Fraction, leakage: Fraction, uncertainty: Fraction,
    late: Fraction, certificates: Fraction, buffer: Fraction,
) -> None:
    result = settle(VintageAmounts(2025, "2025-01-01", "2025-12-31", baseline, removals, project, leakage,
                                   uncertainty, late, certificates, buffer))
    shown_deductions = result.deductions
    assert result.baseline_kg <= baseline and result.removals_kg <= removals
    assert result.project_kg >= project and result.leakage_kg >= leakage
    assert shown_deductions.uncertainty_kg >= uncertainty
    assert shown_deductions.late_calibration_kg >= late
    assert shown_deductions.green_certificate_kg >= certificates
    # What is credited is exactly what the shown figures add up to, never more than the exact amounts.
    shown_total = (result.baseline_kg + result.removals_kg - result.project_kg - result.leakage_kg
                   - shown_deductions.uncertainty_kg - shown_deductions.late_calibration_kg
                   - shown_deductions.green_certificate_kg)
    exact_total = baseline + removals - project - leakage - uncertainty - late - certificates
    issued = result.net_reduction_kg + shown_deductions.buffer_kg
    assert issued == max(0, shown_total)
    assert issued <= max(Fraction(0), exact_total)
    # The project's part is at most its exact share; the pool takes the rounding residue.
    assert result.net_reduction_kg <= issued * (1 - buffer)
    assert shown_deductions.buffer_kg >= 0
