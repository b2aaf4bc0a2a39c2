// Temporary upload names, shared by every backend so that list() skips them the same way.
// A crashed upload leaves such a file behind; it is never mistaken for a chunk.

const PREFIX = '.dbk-tmp.';

export const tempName = (finalName: string, random: string) => `${PREFIX}${finalName}.${random}`;
export const isTempName = (name: string) => name.startsWith(PREFIX);
