"""The x86 float32 reciprocal square root estimate (`vrsqrtps`), measured by
tools/make_rsqrt_table.py on an AMD EPYC (Zen 4): for x' in [1, 4), the estimate's 12-bit
fraction for each exponent parity and top 12 mantissa bits (8192 entries), as zlib-compressed
little-endian int16 differences. Generated; do not edit."""

ESTIMATE_FRACTIONS = (
    "eNrtmVGOwyAMBXOD3v+ysB9VtSU12GBebAyV2shM3thRU3XL5lcuHtdV1inreM62/mzst+ZczZ2XBr2z8rvX9yMm/199r1Or"
    "d56U+dX5u/br78nX75k6T8r86vybePRz+USy2ms/R/t359el9VNOeb16Xltb99fX5Xrr/rHg6Pm0fu95mb8kdDXGE9gfnb/f"
    "P6T/96zyHB3X+qPn7f1I+3lqn/wndHa/9v3BJXrzaH/0vN6P6izj5d8pz/ffnf9S7u7o458a5fc+n3c/TehfDhSPnt/Fj+1i"
    "x6Nf3wzeylnXZz50f+yedVLm+SltOXo+rV/6Lrf3Bsd5AvvR/P4tvFr/3vy9SuB9T7T/8H5e/5VYS45zrR+dj+5/en/x7M8+"
    "65f8h0ezJ2Gdt/Z778/zvfdDra8f3X/ML9sfjJCP7pf097mzcuoZNXUHyPYK698VPbxFZvjR/dHzW8/H5Xefz9qPn8/n3Ic/"
    "w7kctbLSdVvPj+7v3R99Pu95ib9c7ztq89H9p/+5Ps/HP+ccwPI="
)
