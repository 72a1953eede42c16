#!/usr/bin/python3
"""The coefficients of erfcx in packages/nn/src/layers/gelu.ts.

erfcx(z) = exp(z^2) erfc(z) is written t * Q(t) with t = 1 / (1 + z/2), so t runs over (0, 1] as z
runs over [0, inf). This fits Q, a degree-10 polynomial in t, to erfcx(z) / t by least squares on a
Chebyshev basis, weighted for relative error, and prints its coefficients (lowest power first) and
the fit's worst fractional error against Python's math.erfc for z in [0, 26]:

    /usr/bin/python3 tools/numerics/erfcx_fit.py
"""
import math

import numpy as np

DEGREE = 10


def erfcx(z):
    if z < 20:
        return math.erfc(z) * math.exp(z * z)
    # The asymptotic series: 10 terms reach double precision for z >= 20.
    total, term = 0.0, 1.0
    for n in range(12):
        total += term
        term *= -(2 * n + 1) / (2 * z * z)
    return total / (z * math.sqrt(math.pi))


t = np.linspace(1e-6, 1, 40001)
target = np.array([erfcx(z) for z in 2 * (1 / t - 1)]) / t
fit = np.polynomial.chebyshev.Chebyshev.fit(t, target, DEGREE, domain=[0, 1], w=1 / target)
coefficients = np.polynomial.Polynomial.cast(fit).coef
z = np.linspace(0, 26, 100001)
tz = 1 / (1 + 0.5 * z)
approx = tz * np.polyval(coefficients[::-1], tz) * np.exp(-z * z)
exact = np.array([math.erfc(v) for v in z])
print('Q coefficients, t^0 first:', ', '.join(repr(float(c)) for c in coefficients))
print('worst fractional error of erfc for z in [0, 26]:', float(np.max(np.abs(approx / exact - 1))))
