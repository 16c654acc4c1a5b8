package main

import (
	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/provision"
)

// regionState is r's entry in the state file (internal/localstate): its
// resources and rt's endpoints.
func regionState(r *provision.Region, rt *regionRuntime) localstate.Region {
	s := localstate.Region{
		Region: r.Region, CognitoURL: rt.cognitoURL, OrdersAPIURL: rt.ordersURL,
		UserPoolID: r.UserPoolID, ClientID: r.ClientID,
		RegistryTable: r.RegistryTable, OrdersTable: r.OrdersTable, ControlTable: r.ControlTable,
		OrdersQueueURL: r.OrdersQueueURL, OrdersDLQURL: r.OrdersDLQURL, PiiKeyID: r.PiiKeyID,
		EcsCluster: r.EcsCluster, PrimaryService: r.PrimaryService, StandbyCluster: r.StandbyCluster,
		StandbyService: r.StandbyService, HealthCheckID: r.HealthCheckID, SiteDB: rt.siteDB,
		SiteKeyFile: rt.siteKey.file, SitePublicKey: rt.siteKey.pub.String(),
		Alarms:  []localstate.Alarm{},
		Partner: rt.partner, PairAPIURL: rt.pairURL, TrafficURL: rt.trafficURL, RoutingControlARN: rt.routingControl,
	}
	if r.PairTable != "" {
		// The region's functions and site use the pair's table (the one
		// moto table lives in PairTableRegion: reach it there).
		s.OrdersTable, s.OrdersTableRegion = r.PairTable, r.PairTableRegion
	}
	for _, a := range r.Alarms {
		s.Alarms = append(s.Alarms, localstate.Alarm{Name: a.Name, Action: a.Action})
	}
	return s
}
