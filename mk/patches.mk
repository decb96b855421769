# make patches: the whole work as an upstream series against pristine 6.12
# in build/patches/ (0000-cover-letter.patch + numbered patches), each patch
# checked with checkpatch --strict. PATCHES_BUILD_CHECK=1 also compiles
# lib/bkey_jit/ and fs/bcachefs/ after every patch (x86_64, slow).
# See scripts/make-patches.sh.
patches:
	@bash scripts/deps.sh
	@bash scripts/make-patches.sh
