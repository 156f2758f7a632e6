/** The mean radius of the Earth: distances between venues are great-circle distances on it. */
export const EARTH_RADIUS_KM = 6371;
const degrees = (radians: number) => (radians * 180) / Math.PI;

/**
 * The boxes (longitude × latitude) that hold a circle of `radiusKm` around a point: one, or two
 * when it crosses the antimeridian; every longitude when it reaches a pole.
 */
export function boxesAround({
  latitude,
  longitude,
  radiusKm,
}: {
  latitude: number;
  longitude: number;
  radiusKm: number;
}): Array<{ west: number; east: number; south: number; north: number }> {
  const angle = radiusKm / EARTH_RADIUS_KM;
  const south = Math.max(-90, latitude - degrees(angle));
  const north = Math.min(90, latitude + degrees(angle));
  if (Math.abs(latitude) + degrees(angle) >= 90) return [{ west: -180, east: 180, south, north }];
  // The widest longitude difference on the circle (it is reached off the point's own latitude).
  const span = degrees(Math.asin(Math.sin(angle) / Math.cos((latitude * Math.PI) / 180)));
  const [west, east] = [longitude - span, longitude + span];
  if (west < -180)
    return [
      { west: west + 360, east: 180, south, north },
      { west: -180, east, south, north },
    ];
  if (east > 180)
    return [
      { west, east: 180, south, north },
      { west: -180, east: east - 360, south, north },
    ];
  return [{ west, east, south, north }];
}
