import { assetUrl, assetUsedBy, brandAssetById, brandAssets, deleteBrandAsset } from '../domain/assets.ts';
import {
  brandKitById,
  brandKitOf,
  brandKitVersions,
  brandKitWarnings,
  eventBranding,
  kitAssetOf,
  restoreBrandKitVersion,
  updateBrandKit,
  validateBrandKit,
} from '../domain/brand-kits.ts';
import { logoUrlOf } from '../domain/branded-context.ts';
import { activateCustomDomain, certificateOf, requestDomainCertificate } from '../domain/certificates.ts';
import {
  addCustomDomain,
  brandKitForHost,
  customDomainById,
  customDomainsOf,
  dnsRecordsOf,
  removeCustomDomain,
  verifyCustomDomain,
} from '../domain/custom-domains.ts';
import { displayHostnameOf } from '../domain/hostnames.ts';
import { storageUsageReport } from '../domain/usage.ts';
import type { Resolvers } from '../generated/graphql.ts';

export const resolvers: Resolvers = {
  Query: {
    brandKit: (_, args, ctx) => brandKitOf(ctx, args),
    validateBrandKit: (_, { input }, ctx) => validateBrandKit(ctx, input),
    brandKitForHost: (_, args, ctx) => brandKitForHost(ctx, args),
    customDomain: (_, args, ctx) => customDomainById(ctx, args),
    brandAssets: (_, args, ctx) => brandAssets(ctx, args),
    brandAsset: (_, args, ctx) => brandAssetById(ctx, args),
  },
  Mutation: {
    updateBrandKit: (_, { input }, ctx) => updateBrandKit(ctx, input),
    restoreBrandKitVersion: (_, { input }, ctx) => restoreBrandKitVersion(ctx, input),
    addCustomDomain: (_, { input }, ctx) => addCustomDomain(ctx, input),
    verifyCustomDomain: (_, { input }, ctx) => verifyCustomDomain(ctx, input),
    removeCustomDomain: (_, { input }, ctx) => removeCustomDomain(ctx, input),
    requestDomainCertificate: (_, { input }, ctx) => requestDomainCertificate(ctx, input),
    activateCustomDomain: (_, { input }, ctx) => activateCustomDomain(ctx, input),
    deleteBrandAsset: (_, { input }, ctx) => deleteBrandAsset(ctx, input),
  },
  UsageReport: {
    // Checked again here: a reference never trusts the root field's check (domain/usage.ts).
    __resolveReference: (report, ctx) => storageUsageReport(ctx, report),
  },
  BrandAsset: {
    __resolveReference: (reference, ctx) => brandAssetById(ctx, reference),
    url: (asset, _, ctx) => assetUrl(ctx.config, asset.sha256),
    variants: (asset, _, ctx) =>
      asset.variants.map((variant) => ({ ...variant, url: assetUrl(ctx.config, variant.sha256) })),
    usedBy: (asset, _, ctx) => assetUsedBy(ctx, asset),
  },
  BrandKit: {
    __resolveReference: (reference, ctx) => brandKitById(ctx, reference),
    organization: (kit) => ({ id: kit.organizationId }),
    logo: (kit, _, ctx) => kitAssetOf(ctx, kit.logoAssetId),
    logoOnDark: (kit, _, ctx) => kitAssetOf(ctx, kit.logoOnDarkAssetId),
    favicon: (kit, _, ctx) => kitAssetOf(ctx, kit.faviconAssetId),
    emailHeader: (kit, _, ctx) => kitAssetOf(ctx, kit.emailHeaderAssetId),
    coverImage: (kit, _, ctx) => kitAssetOf(ctx, kit.coverAssetId),
    logoUrl: async (kit, _, ctx) => {
      const logo = await kitAssetOf(ctx, kit.logoAssetId);
      return logo ? logoUrlOf(ctx.config, logo) : null;
    },
    domain: async (kit, _, ctx) =>
      (await ctx.loaders.customDomainsOfOrganization.load(kit.organizationId)).find(
        (domain) => domain.state === 'ACTIVE',
      )?.hostname ?? null,
    warnings: (kit, _, ctx) => brandKitWarnings(ctx, kit),
    versions: (kit, args, ctx) => brandKitVersions(ctx, kit, args),
  },
  BrandKitVersion: {
    primaryColor: (version) => version.settings.primaryColor,
    accentColor: (version) => version.settings.accentColor,
    backgroundColor: (version) => version.settings.backgroundColor,
    textColor: (version) => version.settings.textColor,
    logoAssetId: (version) => version.settings.logoAssetId ?? null,
    logoOnDarkAssetId: (version) => version.settings.logoOnDarkAssetId ?? null,
    faviconAssetId: (version) => version.settings.faviconAssetId ?? null,
    emailHeaderAssetId: (version) => version.settings.emailHeaderAssetId ?? null,
    coverAssetId: (version) => version.settings.coverAssetId ?? null,
    fontFamily: (version) => version.settings.fontFamily,
    emailFooter: (version) => version.settings.emailFooter ?? null,
    ticketLayout: (version) => version.settings.ticketLayout,
  },
  Event: {
    branding: (event, _, ctx) => eventBranding(ctx, event),
  },
  Organization: {
    customDomains: (organization, _, ctx) => customDomainsOf(ctx, { organizationId: organization.id }),
    branding: (organization, _, ctx) => brandKitOf(ctx, { organizationId: organization.id }),
  },
  CustomDomain: {
    __resolveReference: (reference, ctx) => customDomainById(ctx, reference),
    displayHostname: (domain) => displayHostnameOf(domain.hostname),
    verificationRecord: (domain, _, ctx) => dnsRecordsOf(domain, ctx.config).verificationRecord,
    cnameRecord: (domain, _, ctx) => dnsRecordsOf(domain, ctx.config).cnameRecord,
    certificate: (domain, _, ctx) => certificateOf(domain, ctx.config),
  },
};
