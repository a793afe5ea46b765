"""edi63650: a streaming X12 837P/837I reader and validator for spinal-cord-stimulator claims.

Validate, with acknowledgments::

    import edi63650
    result = edi63650.validate("claims.837")        # or validate_stream(binary_file)
    for claim_result in result.claims:                # claim, findings, accepted, phase
        print(claim_result.claim.claim_id, claim_result.accepted)
    result.to_277ca(); result.to_999(); result.to_json(); result.to_html()

Parse only, streaming::

    import edi63650
    with open("claims.837", "rb") as stream:
        for claim in edi63650.iter_claims(stream):
            print(claim.claim_id, claim.total_charge, [l.procedure for l in claim.lines])

:func:`iter_events` yields the findings (framing, envelopes) too, in stream order; the sans-IO
:class:`Reader` takes bytes from wherever the caller gets them.

Validate a file of any size in bounded memory: :func:`iter_outcomes` (or
:meth:`Validator.outcomes`) yields each transaction set's verdicts as the set ends, and
:meth:`Validator.write` feeds the writers in the same pass (see :mod:`edi63650.validate`).
"""

from edi63650.errors import EdiError, EdiUsageError, MapError
from edi63650.findings import Finding, Severity
from edi63650.model import (
    Claim,
    ClaimKind,
    InstitutionalClaim,
    InstitutionalServiceLine,
    ProfessionalClaim,
    ProfessionalServiceLine,
    ServiceLine,
)
from edi63650.reader import Reader, iter_claims, iter_events, read_bytes
from edi63650.segment import Delimiters, Segment
from edi63650.tokenizer import Tokenizer
from edi63650.validate import (
    ValidationResult,
    Validator,
    iter_outcomes,
    validate,
    validate_stream,
)

__version__ = "0.1.0"

__all__ = [
    "Claim",
    "ClaimKind",
    "Delimiters",
    "EdiError",
    "EdiUsageError",
    "Finding",
    "InstitutionalClaim",
    "InstitutionalServiceLine",
    "MapError",
    "ProfessionalClaim",
    "ProfessionalServiceLine",
    "Reader",
    "Segment",
    "ServiceLine",
    "Severity",
    "Tokenizer",
    "ValidationResult",
    "Validator",
    "__version__",
    "iter_claims",
    "iter_events",
    "iter_outcomes",
    "read_bytes",
    "validate",
    "validate_stream",
]
