"""Artificially expanding the training set (notes: "Artificially expanding the training set").

"If we were training a network to recognize handwritten digits, we may take
our examples and rotate them slightly, since this could plausibly happen
naturally." :func:`shift_rotate` moves and rotates a whole batch of images
by small random amounts in a few vectorised NumPy operations (one inverse
coordinate map and a bilinear gather; no per-image loop), and
:class:`ImageAugmentation` packages it as ``rb.fit``'s ``augment`` argument.
"""

import math
import numbers

import numpy as np

from ..checks import is_int
from ..randomness import resolve_rng


def _as_images(x, image_shape):
    """View ``x`` as (N, C, H, W); returns it and a function restoring the original shape."""
    shape = x.shape
    if image_shape is not None:
        image_shape = tuple(image_shape)
        if int(np.prod(shape[1:])) != int(np.prod(image_shape)):
            raise ValueError(f"shift_rotate: images of shape {shape} do not hold images of "
                             f"shape {image_shape}")
        x = x.reshape((shape[0],) + image_shape)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"shift_rotate: expected images of shape (batch, H, W) or (batch, C, H, "
                         f"W), or image_shape= for flat rows; got shape {shape}")
    return x, lambda y: y.reshape(shape)


def _number(where, name, value, accepted):
    """``value`` as a float when it is a real number (not a bool, a string or None)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:  # np.float32(2) * 1 and the like
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be {accepted}; got {type(value).__name__} "
                        f"{value!r}")
    return float(value)


def _check_fill(where, fill):
    """``fill`` as a float: any real number (NaN or inf mark the pixels from outside)."""
    return _number(where, "fill", fill, "a number (the value of pixels from outside the image)")


def _check_image_shape(where, image_shape):
    """``image_shape`` as a tuple of 2 or 3 positive ints ((H, W) or (C, H, W)), or None."""
    if image_shape is None:
        return None
    if (not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3)
            or not all(is_int(n) and n > 0 for n in image_shape)):
        raise TypeError(f"{where}: image_shape must be (H, W) or (C, H, W), positive integers; "
                        f"got {image_shape!r:.60}")
    return tuple(int(n) for n in image_shape)


def _check_ranges(where, max_shift, max_angle):
    """``max_shift`` and ``max_angle`` as floats, refusing negative or non-finite values."""
    max_shift = _number(where, "max_shift", max_shift, "a number of pixels >= 0")
    max_angle = _number(where, "max_angle", max_angle, "a number of degrees in [0, 180]")
    if not (math.isfinite(max_shift) and max_shift >= 0):
        raise ValueError(f"{where}: max_shift must be >= 0; got {max_shift!r}")
    if not (math.isfinite(max_angle) and 0 <= max_angle <= 180):
        raise ValueError(f"{where}: max_angle must be in [0, 180] degrees; got {max_angle!r}")
    return max_shift, max_angle


def shift_rotate(images, rng=None, max_shift=2.0, max_angle=10.0, image_shape=None, fill=0.0):
    """Shift each image by up to ``max_shift`` pixels and rotate it by up to ``max_angle`` degrees.

    Parameters
    ----------
    images : ndarray, shape (batch, H, W), (batch, C, H, W), or (batch, D) with ``image_shape``
    rng : numpy.random.Generator or int, optional
    max_shift : float, default 2.0
        Shifts are drawn uniformly from [-max_shift, max_shift] along each axis.
    max_angle : float, default 10.0
        Rotations (about the image centre) uniformly from [-max_angle, max_angle] degrees.
    image_shape : tuple, optional
        (H, W) or (C, H, W) when ``images`` are flat rows (MNIST-style vectors).
    fill : float, default 0.0
        The value of pixels that come from outside the image.

    Returns
    -------
    ndarray, same shape as ``images``
        Bilinearly resampled images (a new array). Floating images keep their
        dtype; integer images become float32 (the resampled values are
        fractional).

    Raises
    ------
    ValueError
        For a negative or non-finite ``max_shift``, a ``max_angle`` outside
        [0, 180], or images of the wrong shape.
    TypeError
        For a ``max_shift``, ``max_angle`` or ``fill`` that is not a real
        number (a string, None, a bool, a list), or an ``image_shape`` that is
        not 2 or 3 positive integers.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((1, 5, 5)); img[0, 2, 2] = 1
    >>> out = shift_rotate(img, rng=0, max_shift=0, max_angle=0)
    >>> bool(np.allclose(out, img))
    True
    """
    max_shift, max_angle = _check_ranges("shift_rotate", max_shift, max_angle)
    fill = _check_fill("shift_rotate", fill)
    image_shape = _check_image_shape("shift_rotate", image_shape)
    x = np.asarray(images)
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    imgs, restore = _as_images(x.astype(dtype, copy=False), image_shape)
    n, c, h, w = imgs.shape
    rng = resolve_rng(rng)
    angle = np.deg2rad(rng.uniform(-max_angle, max_angle, n))
    ty, tx = rng.uniform(-max_shift, max_shift, (2, n))
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy = np.arange(h, dtype=np.float64)[None, :, None] - cy - ty[:, None, None]
    xx = np.arange(w, dtype=np.float64)[None, None, :] - cx - tx[:, None, None]
    # inverse map: where each output pixel comes from (rotate back by -angle)
    src_y = cos * yy + sin * xx + cy
    src_x = -sin * yy + cos * xx + cx
    y0, x0 = np.floor(src_y), np.floor(src_x)
    wy, wx = src_y - y0, src_x - x0
    flat = imgs.reshape(n, c, h * w)
    out = np.zeros((n, c, h, w), dtype=np.float64)
    outside = np.zeros((n, h, w))  # the share of each output pixel that comes from outside
    for dy, dx, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                           (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
        yi, xi = y0 + dy, x0 + dx
        inside = (yi >= 0) & (yi <= h - 1) & (xi >= 0) & (xi <= w - 1)
        index = (np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)).astype(np.intp)
        values = np.take_along_axis(flat, index.reshape(n, 1, h * w), axis=2)
        values = np.where(inside.reshape(n, 1, h * w), values, 0).reshape(n, c, h, w)
        out += weight[:, None] * values
        outside += np.where(inside, 0.0, weight)
    # fill enters only where some share comes from outside: a NaN/inf fill then marks those
    # pixels without turning the others into 0 * NaN
    out += np.multiply(fill, outside, out=np.zeros_like(outside), where=outside > 0)[:, None]
    return restore(out.astype(dtype, copy=False))


class ImageAugmentation:
    """``rb.fit``'s ``augment``: random small shifts and rotations of each training batch.

    Parameters
    ----------
    max_shift : float, default 2.0
    max_angle : float, default 10.0
    image_shape : tuple, optional
        For flat rows, e.g. ``(28, 28)`` or ``(8, 8)``.
    fill : float, default 0.0

    Examples
    --------
    >>> import numpy as np
    >>> aug = ImageAugmentation(max_shift=1, max_angle=15, image_shape=(8, 8))
    >>> aug(np.ones((4, 64), dtype=np.float32), np.random.default_rng(0)).shape
    (4, 64)
    """

    def __init__(self, max_shift=2.0, max_angle=10.0, image_shape=None, fill=0.0):
        self.max_shift, self.max_angle = _check_ranges("ImageAugmentation", max_shift, max_angle)
        self.image_shape = _check_image_shape("ImageAugmentation", image_shape)
        self.fill = _check_fill("ImageAugmentation", fill)

    def __call__(self, x, rng=None):
        return shift_rotate(x, rng, self.max_shift, self.max_angle, self.image_shape, self.fill)

    def __repr__(self):
        return (f"ImageAugmentation(max_shift={self.max_shift}, max_angle={self.max_angle}, "
                f"image_shape={self.image_shape})")
